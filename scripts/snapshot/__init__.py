"""The pieces of scripts/build_catalog_snapshot.py: one module per service, the shared row and the sources.

Every figure here is transcribed from a public page, API answer or file named next to it, with the date that
source gives it (`as_of`), or "undated" when the source states none. The day a copy was read is said in the
source text, never passed off as the figure's date.
"""
