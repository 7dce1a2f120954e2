"""`diskrestore`: the command line for the diskrestore app's HTTP API (plan, restore, follow,
approve, cancel, drills). A client only: it never talks to Azure itself."""
