//! Megaflow classifier (dpcls): tuple space search over cuckoo subtables.
