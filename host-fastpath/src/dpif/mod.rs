//! Datapath: the pipeline (extract → EMC → dpcls → upcall) and the flow table with its lifecycle.
