// Included by the shell's box_250mhz; fastpath has no address map to place.
