"""One router per resource; :mod:`tiesense.web.app` includes them."""
