"""SISSO: interpretable descriptors by sure-independence screening and an l0 sparsifying operator.

Ouyang et al., Phys. Rev. Mater. 2, 083802 (2018); Ghiringhelli et al., PRL 114, 105503 (2015).
"""

from bigmax.analytics.sisso.l0 import L0Result, l0_search

__all__ = ["L0Result", "l0_search"]
