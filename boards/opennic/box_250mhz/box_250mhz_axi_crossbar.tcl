# The shell sources this file from every box_250mhz plugin. fastpath takes the
# whole box AXI4-Lite window itself, so it creates no crossbar IP.
