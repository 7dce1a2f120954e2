"""devhost: a local stand-in for the Azure Functions host and the Durable extension.

Development and test tool only; never deployed (listed in .funcignore). It loads the app's
unchanged `function_app.py` and serves it the way `func start` does. See docs/devhost.md.
"""
