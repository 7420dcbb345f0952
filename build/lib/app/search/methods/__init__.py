"""One module per search method; each registers itself (:mod:`app.search.registry`)."""
