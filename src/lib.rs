//! cnetstat's layers, as a library for its binary (main.rs) and its fuzz
//! targets (fuzz/): model, parse, netlink, collect, names, analyze, render.
//! Only what main.rs calls is public; the fuzz targets build with
//! `--cfg fuzzing`, which makes every layer public so they can reach the
//! parsers, and leaves dead-code warnings working everywhere else.

pub mod app;
pub mod cli;
pub mod config;
pub mod diag;

macro_rules! layers {
    ($($layer:ident),* $(,)?) => {
        $(
            #[cfg(not(fuzzing))]
            mod $layer;
            #[cfg(fuzzing)]
            pub mod $layer;
        )*
    };
}

layers!(
    analyze, clock, collect, escape, model, names, netlink, parse, record, render, terminal, text,
    watch,
);
