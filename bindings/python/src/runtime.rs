//! One process-wide tokio runtime, rebuilt in a child after `fork()`, shared by the
//! sync client (which waits on it with the GIL released) and the async client
//! (through pyo3-async-runtimes' generic runtime traits).

use std::cell::OnceCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Mutex;
use std::time::Duration;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3_async_runtimes::generic::{ContextExt, Runtime as GenericRuntime};
use pyo3_async_runtimes::TaskLocals;
use tokio::runtime::Runtime;

/// How long the sync client waits with the GIL released before checking for
/// signals (Ctrl-C) again.
const WAIT_SLICE: Duration = Duration::from_millis(50);

struct Slot {
    pid: u32,
    runtime: &'static Runtime,
}

static RUNTIME: Mutex<Option<Slot>> = Mutex::new(None);

/// The runtime of this process. A runtime inherited through `fork()` has no worker
/// threads in the child: it is leaked (dropping it could block) and a new one built.
pub fn runtime() -> &'static Runtime {
    let pid = std::process::id();
    let mut slot = RUNTIME.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(s) = slot.as_ref() {
        if s.pid == pid {
            return s.runtime;
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("glair-vision")
        .build()
        .expect("cannot start the tokio runtime");
    let runtime: &'static Runtime = Box::leak(Box::new(runtime));
    *slot = Some(Slot { pid, runtime });
    runtime
}

/// Runs `fut` on the runtime and waits for it with the GIL released, in short
/// slices; between slices, pending signals run their Python handlers, so Ctrl-C
/// raises `KeyboardInterrupt` promptly and aborts the task.
pub fn block_on<F, T>(py: Python<'_>, fut: F) -> PyResult<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let (tx, mut rx) = mpsc::sync_channel(1);
    let handle = runtime().spawn(async move {
        let _ = tx.send(fut.await);
    });
    loop {
        let (outcome, back) = py.detach(move || (rx.recv_timeout(WAIT_SLICE), rx));
        rx = back;
        match outcome {
            Ok(v) => return Ok(v),
            Err(RecvTimeoutError::Disconnected) => {
                return Err(PyRuntimeError::new_err("the glair-vision task stopped unexpectedly"));
            }
            Err(RecvTimeoutError::Timeout) => {
                if let Err(e) = py.check_signals() {
                    handle.abort();
                    return Err(e);
                }
            }
        }
    }
}

/// pyo3-async-runtimes' view of [`runtime`].
pub struct ForkSafeRuntime;

tokio::task_local! {
    static TASK_LOCALS: OnceCell<TaskLocals>;
}

impl GenericRuntime for ForkSafeRuntime {
    type JoinError = tokio::task::JoinError;
    type JoinHandle = tokio::task::JoinHandle<()>;

    fn spawn<F>(fut: F) -> Self::JoinHandle
    where
        F: Future<Output = ()> + Send + 'static,
    {
        runtime().spawn(fut)
    }

    fn spawn_blocking<F>(f: F) -> Self::JoinHandle
    where
        F: FnOnce() + Send + 'static,
    {
        runtime().spawn_blocking(f)
    }
}

impl ContextExt for ForkSafeRuntime {
    fn scope<F, R>(locals: TaskLocals, fut: F) -> Pin<Box<dyn Future<Output = R> + Send>>
    where
        F: Future<Output = R> + Send + 'static,
    {
        let cell = OnceCell::new();
        let _ = cell.set(locals);
        Box::pin(TASK_LOCALS.scope(cell, fut))
    }

    fn get_task_locals() -> Option<TaskLocals> {
        TASK_LOCALS.try_with(|c| c.get().cloned()).unwrap_or_default()
    }
}

/// An asyncio awaitable for `fut`, run on [`runtime`]. Cancelling it drops `fut`.
pub fn future_into_py<F, T>(py: Python<'_>, fut: F) -> PyResult<Bound<'_, PyAny>>
where
    F: Future<Output = PyResult<T>> + Send + 'static,
    T: for<'py> IntoPyObject<'py> + Send + 'static,
{
    pyo3_async_runtimes::generic::future_into_py::<ForkSafeRuntime, F, T>(py, fut)
}
