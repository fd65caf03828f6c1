"""Invented country -> capital facts: a tiny model can only have learnt them in training."""

CAPITALS = {
    "Aland": "Amber",
    "Borduria": "Bolt",
    "Carpania": "Cedar",
    "Dorsia": "Dune",
    "Elbonia": "Ember",
    "Freedonia": "Frost",
    "Genovia": "Glade",
    "Hyrule": "Haven",
    "Ixland": "Iris",
    "Jorvik": "Jade",
    "Kalkania": "Kite",
    "Latveria": "Lumen",
}
