"""ModelFactory's data side: contribution bytes in, the exact examples of a Datanet version out.

- `store`: contribution bytes named by their sha256 (the on-chain content hash), re-hashed on read.
- `routes`: ``POST /v1/contributions`` and ``GET /v1/contributions/<sha256>`` over that store.
- `formats`: text, JSONL alpaca and JSONL chat contributions to examples, bad rows listed.
- `datanet`: ``datanet:<id>@<version>`` to checked examples and a training manifest.
- `manifest`: the manifest, its on-chain ``manifestHash``, and the held-out split.

Nothing is re-exported here: importing the formats or the datanet loader should not pull in
the HTTP layer (and through `serving.api`, torch).
"""
