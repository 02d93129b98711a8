"""Who may do what over the API."""

from rest_framework import permissions


class ModelPermissionsOrReadOnly(permissions.DjangoModelPermissionsOrAnonReadOnly):
    """Anyone may read; a write needs the Django model permission for what it changes."""

    # Unlike DRF's default, reading needs no permission even when authenticated.
    perms_map = {
        **permissions.DjangoModelPermissions.perms_map,
        "GET": [],
        "HEAD": [],
        "OPTIONS": [],
    }

    def has_permission(self, request, view):
        # A method that needs no permission is allowed to any user, as DRF's check concludes
        # (has_perms([]) is true), without building the view's queryset first.
        if request.user and self.perms_map.get(request.method) == []:
            return True
        return super().has_permission(request, view)
