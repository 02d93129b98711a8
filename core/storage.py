"""Static files in production: WhiteNoise's compressed files with content hashes in their names,
and a clean fallback when `collectstatic` has not run."""

import logging

from whitenoise.storage import CompressedManifestStaticFilesStorage

logger = logging.getLogger(__name__)


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    """Hashed names from the manifest that `collectstatic` writes; without a manifest (or for a
    file it lacks), the plain name, which WhiteNoise then serves from the apps' static folders
    (settings.WHITENOISE_USE_FINDERS). A page never fails for want of `collectstatic`."""

    manifest_strict = False

    def stored_name(self, name):
        try:
            return super().stored_name(name)
        except ValueError:
            # Not collected: neither in the manifest nor in STATIC_ROOT.
            logger.debug("static file %s not collected; serving it by its plain name", name)
            return name
