"""guardia's event catalogue as an AsyncAPI 3.0 document (`guardia schemas asyncapi`)."""

from .document import ASYNCAPI_PATH, build_document, build_services, is_current, render, write

__all__ = ["ASYNCAPI_PATH", "build_document", "build_services", "is_current", "render", "write"]
