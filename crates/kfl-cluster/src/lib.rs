//! KFL on a live cluster (work in progress).
