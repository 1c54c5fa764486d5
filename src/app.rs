//! What every command receives: the global flags, the printer, and access to the context store,
//! the resolved target server and an async runtime (built only by commands that need one, so
//! local commands such as `context ls` start in a millisecond).

use std::future::Future;

use crate::cli::GlobalArgs;
use crate::context::resolve::{self, Target};
use crate::context::store::Store;
use crate::error::{Error, Result};
use crate::output::Printer;

pub struct App {
    pub global: GlobalArgs,
    pub printer: Printer,
}

impl App {
    pub fn new(global: GlobalArgs) -> App {
        let printer = Printer::new(global.output_format(), global.quiet);
        App { global, printer }
    }

    pub fn store(&self) -> Result<Store> {
        Store::open()
    }

    /// The server this run talks to: global flags, then environment, then the context.
    pub fn target(&self) -> Result<Target> {
        resolve::resolve(&self.global, &self.store()?)
    }

    /// Run a future on a single-threaded runtime; Ctrl-C cancels it (dropping it runs the
    /// cleanup guards of partial downloads) and the run ends with the `interrupted` exit code.
    pub fn block_on<T>(&self, fut: impl Future<Output = Result<T>>) -> Result<T> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::io("starting the async runtime", e))?;
        let result = runtime.block_on(async {
            tokio::select! {
                r = fut => r,
                _ = tokio::signal::ctrl_c() => Err(Error::interrupted()),
            }
        });
        // Never wait for stray background I/O on exit.
        runtime.shutdown_background();
        result
    }
}
