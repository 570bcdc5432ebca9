"""``samsyn archive``: the ledger as E-ARK CSIP/SIP packages with ERMS XML (FGS for Sweden).

See docs/archive.md: ``scratch`` sorts the ledger's feed into a disk index, ``erms`` writes
one ERMS file per package from it (streamed), ``package`` lays out the package around it
(METS root, the integrity export, the public key, the schema) and renames it into place.
"""
