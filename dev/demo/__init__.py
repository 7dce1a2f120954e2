"""`make demo` and `make serve` (dev/demo/__main__.py)."""

# The app's user-assigned managed identity (its client id) wherever the app runs locally (the
# demo, the tests, chaos, the benchmarks), as infra/app/function.bicep assigns one to the site
# and names it in AzureWebJobsStorage__clientId; devhost serves its tokens.
APP_IDENTITY = "5f1c7e2a-8b3d-4c9e-a1f0-6d2b8e4c7a90"
