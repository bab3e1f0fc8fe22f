"""Browser front ends of the model: the class exercise (``game``, ``server``, ``debrief``) and the dashboard.

This package imports ``sim``; the model never imports it. Only the modules that serve pages need the ``ui``
extra (Starlette, uvicorn, Solara); ``game`` and ``debrief`` need only the core dependencies.
"""
