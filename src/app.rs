//! What every command receives: the run's resolved settings, the printer, and access to the
//! context store, the resolved target server and an async runtime (built only by commands that
//! need one, so local commands such as `context ls` start in a millisecond).

use std::future::Future;

use crate::context::store::Store;
use crate::error::{Error, Result};
use crate::output::Printer;
use crate::settings::{Settings, Target};

pub struct App {
    pub settings: Settings,
    pub printer: Printer,
}

impl App {
    pub fn new(settings: Settings) -> App {
        let printer = Printer::new(settings.output);
        App { settings, printer }
    }

    pub fn store(&self) -> Result<Store> {
        self.settings.store()
    }

    /// The server this run talks to: flags, then environment, then the context.
    pub fn target(&self) -> Result<Target> {
        self.settings.target(&self.store()?)
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
