"""Privacy by design under Québec's Law 25: the person in charge and retention periods
(policy.py), consent to share a position (consent.py), a family's data (family.py) and its
export (export.py) or erasure (erase.py), retention and destruction (retention.py), requests
for rectification (rectification.py) and the register of confidentiality incidents
(incidents.py). docs/privacy.md is the inventory of what is held."""
