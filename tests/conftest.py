pytest_plugins = ["devhost.testing"]
