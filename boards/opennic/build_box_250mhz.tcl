# Sourced by open-nic-shell's script/build.tcl (`-user_plugin DIR`) with DIR as
# the working directory. boards/opennic/build.sh stages DIR: this folder
# plus rtl/, the Verilog `cargo run -p hdl --bin emit` writes for the board.
foreach f {fastpath_nic fastpath_axil_32to64 fastpath_axis_512to64 fastpath_axis_64to512} {
    if {![file exists rtl/${f}.v]} {
        error "fastpath plugin: rtl/${f}.v missing (run boards/<board>/build.sh)"
    }
    read_verilog -quiet rtl/${f}.v
}
read_verilog -quiet -sv fastpath_cdc.sv
read_verilog -quiet -sv fastpath_box_250mhz.sv
