"""Key and code transparency on the server (issue 17; crypto/PROTOCOL.md section 14).

- `log.py`: the log (RFC 6962 Merkle tree over the stored entries), its checkpoints signed by the log
  key and cosigned by witnesses, the key proofs pages check, and the trust configuration (`/js/trust.js`).
- `routes.py`: the log served in the C2SP tlog-tiles layout under `/log/`.
- `witness.py`: `oor witness`, a C2SP tlog-witness anyone can run against the public log.
- `release.py`: release manifests, logged per release; `oor serve` refuses files that differ.
- `keys.py`: key statements, signed offline by the root key, and the gate on them.

The Merkle tree, signed notes and proofs are crypto/transparency.py: nothing here hashes a tree.
"""
