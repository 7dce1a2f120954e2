"""The restore domain: requests, plans, outcomes and errors. Imports nothing from Azure or
Functions."""
