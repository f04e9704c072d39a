# Timing of the clock crossings in fastpath_taxi_lib.sv (read by
# fastpath_build.tcl as an unmanaged constraint file, after synthesis has
# named the cells). Written for this project.
#
# fastpath_taxi_sync: the first flop samples another clock's Gray-coded
# pointer or reset level. The path only needs to be short enough that a
# pointer's bits do not skew by a whole destination period: bound it by the
# fastest clock of the design (the 390.625 MHz MAC clocks, 2.56 ns).
set fastpath_cdc_max 2.5
foreach sync [get_cells -quiet -hier -filter {ORIG_REF_NAME == fastpath_taxi_sync || REF_NAME == fastpath_taxi_sync}] {
    set dst [get_cells -quiet "$sync/s1_reg*"]
    if {[llength $dst]} {
        set src [all_fanin -quiet -startpoints_only -flat [get_pins -quiet -of_objects $dst -filter {REF_PIN_NAME == D}]]
        if {[llength $src]} {
            set_max_delay -datapath_only -from $src -to $dst $fastpath_cdc_max
        }
    }
}
# fastpath_taxi_frame_fifo: a word is read in the other clock only after its
# commit pointer has crossed, two destination clocks after the write; the
# memory's output (distributed RAM, if Vivado does not use block RAM) needs
# no tighter bound than the synchronizers.
foreach fifo [get_cells -quiet -hier -filter {ORIG_REF_NAME == fastpath_taxi_frame_fifo || REF_NAME == fastpath_taxi_frame_fifo}] {
    set mem [get_cells -quiet "$fifo/mem_reg*"]
    set out [get_cells -quiet -filter {IS_SEQUENTIAL} "$fifo/m_t*_reg*"]
    if {[llength $mem] && [llength $out] && [llength [get_cells -quiet -filter {PRIMITIVE_GROUP == DMEM || PRIMITIVE_GROUP == DISTRAM} $mem]]} {
        set_max_delay -datapath_only -from $mem -to $out $fastpath_cdc_max
    }
}
