"""The web dashboard: static HTML, CSS and vanilla JavaScript served by the control plane itself.

No build step and no third-party origin: everything the browser loads comes from `static/`, and the
pages talk to the JSON API under /api/v1 with the signed-in user's bearer token.
"""
