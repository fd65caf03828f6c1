"""Names for the integers and byte strings that would otherwise make signatures ambiguous."""

from typing import NewType

Wei = NewType("Wei", int)
"""An amount of the native token (OPEN) or an ERC-20, in its smallest unit. Never a float."""

Gas = NewType("Gas", int)

BlockNumber = NewType("BlockNumber", int)

Address = NewType("Address", bytes)
"""A 20-byte canonical address."""

Hash32 = NewType("Hash32", bytes)
