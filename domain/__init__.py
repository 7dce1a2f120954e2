"""The domain, by capability (restore/, recovery/, drills/, access/) plus what they share (errors,
model, resource_id, document, validation). Imports nothing from Azure or Functions."""
