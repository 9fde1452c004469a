"""The web GUI: server-rendered page shells and the static assets their JavaScript modules need.

Each page is one HTML shell (``templates/``) and one ES module (``static/js/``) that talks to the
REST API with the same calls a script would make, so the GUI can do nothing the API refuses.
Third-party libraries (3Dmol.js, Plotly) are copied from npm into ``static/vendor/`` by
``make web``; nothing is fetched from a CDN.
"""

from bigmax.web.routes import router

__all__ = ["router"]
