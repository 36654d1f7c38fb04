//! vnswitch operator shell.
