from rest_framework.routers import SimpleRouter

from webhooks.api import EndpointViewSet

router = SimpleRouter()
router.register("webhooks", EndpointViewSet, basename="webhook")

urlpatterns = router.urls
