"""Everything that knows whoosh3's private internals, in one place (whoosh3 is pinned to 3.54).

- :mod:`.postings`: posting lists read a block at a time from the W3 codec, and the raw
  field-length bytes of a segment;
- :mod:`.postcache`: decoded postings of frequent terms saved beside each segment, named
  after Whoosh's segment files so that Whoosh deletes them with the segment;
- :mod:`.writing`: stopping the worker processes of Whoosh's multiprocess writer;
- :mod:`.backend`: the ranking seam (:class:`evsearch.search.backend.Backend`) over a searcher.

``tests/test_whoosh_canary.py`` checks that every private name used here still exists in the
installed whoosh3; an upgrade that moves one fails there first, by name.
"""
