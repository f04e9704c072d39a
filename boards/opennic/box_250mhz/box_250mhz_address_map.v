// The shell reads this file from every box_250mhz plugin. fastpath needs no
// address map: the box window (BAR2 0x100000, offsets as the shell passes
// them) goes whole to fastpath_box_250mhz.
