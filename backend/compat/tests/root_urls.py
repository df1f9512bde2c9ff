"""The site's URLs with FLOWYARD_COMFY_AT_ROOT on (settings are read at import, so tests use this module)."""

from backend.compat.urls import root_urlpatterns
from backend.urls import urlpatterns as site

urlpatterns = [*site[:-1], *root_urlpatterns(), site[-1]]
