"""Live prices from the providers' own price APIs, for `cloudrun catalog refresh`.

Only `catalog refresh` imports this package. Each fetcher imports its SDK (boto3, google-cloud-billing)
inside the function that needs it, so `plan` never loads a cloud SDK, and nothing here runs a network
call unless a refresh is asked for. Every fetched row is checked by `validate.check` before it can reach
the cache; rejected rows come back with the reason.
"""
