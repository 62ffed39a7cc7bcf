"""Resource and agent types that ship with wfrun; each module exposes `TYPES`."""
