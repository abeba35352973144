//! The camera-sync line protocol (filled in by the sync module's author).
