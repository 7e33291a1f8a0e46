"""`python -m tinysweep codegen|evaluate ...` (see tinysweep.byo)."""
from tinysweep.byo import main

main()
