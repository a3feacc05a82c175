"""The versions of the register of processing activities (R33): dated, with the map's digest."""
