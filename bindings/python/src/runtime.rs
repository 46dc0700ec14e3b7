//! One process-wide tokio runtime, rebuilt in a child after `fork()`, shared by the
//! sync client (which waits on it with the GIL released) and the async client
//! (through pyo3-async-runtimes' generic runtime traits).

use std::cell::OnceCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3_async_runtimes::generic::{ContextExt, Runtime as GenericRuntime};
use pyo3_async_runtimes::TaskLocals;
use tokio::runtime::{Handle, Runtime};

use crate::errors::internal_pyerr;
use crate::panics::{self, Guarded};

/// How long the sync client waits with the GIL released before checking for
/// signals (Ctrl-C) again.
const WAIT_SLICE: Duration = Duration::from_millis(50);

/// The runtime and the process that built it.
static RUNTIME: Mutex<Option<(u32, Runtime)>> = Mutex::new(None);

/// The runtime of this process. A runtime inherited through `fork()` has no worker
/// threads in the child: it is leaked (dropping it could block) and a new one built.
pub fn runtime() -> Handle {
    let pid = std::process::id();
    let mut slot = RUNTIME.lock().unwrap_or_else(|e| e.into_inner());
    match slot.take() {
        Some((owner, runtime)) if owner == pid => {
            let handle = runtime.handle().clone();
            *slot = Some((owner, runtime));
            return handle;
        }
        Some((_, inherited)) => std::mem::forget(inherited),
        None => {}
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("glair-vision")
        .build()
        .expect("cannot start the tokio runtime");
    let handle = runtime.handle().clone();
    *slot = Some((pid, runtime));
    handle
}

/// Set at interpreter exit: completions of async calls no longer reach Python.
static FINALIZING: AtomicBool = AtomicBool::new(false);
/// Completions (which attach to Python) running right now.
static ACTIVE_COMPLETIONS: AtomicUsize = AtomicUsize::new(0);

/// Whether the interpreter is exiting (nothing may attach to Python any more).
pub fn finalizing() -> bool {
    FINALIZING.load(Ordering::SeqCst)
}

/// Called at interpreter exit (`atexit`, GIL held): from now on no completion of
/// an async call attaches to Python (attaching to a finalized interpreter aborts
/// the process); completions already attaching are let finish; then every task
/// is dropped. A later call builds a new runtime.
pub fn shutdown(py: Python<'_>) {
    FINALIZING.store(true, Ordering::SeqCst);
    py.detach(|| {
        let deadline = Instant::now() + Duration::from_secs(2);
        while ACTIVE_COMPLETIONS.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    let mut slot = RUNTIME.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((owner, runtime)) = slot.take() {
        if owner == std::process::id() {
            runtime.shutdown_background();
        } else {
            std::mem::forget(runtime);
        }
    }
}

/// Runs `fut` on the runtime and waits for it with the GIL released, in short
/// slices; between slices, pending signals run their Python handlers, so Ctrl-C
/// raises `KeyboardInterrupt` promptly and aborts the task. A panic in `fut`
/// (on a worker thread) raises `InternalError` here.
pub fn block_on<F, T>(py: Python<'_>, fut: F) -> PyResult<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let (tx, mut rx) = mpsc::sync_channel(1);
    let handle = runtime().spawn(async move {
        let _ = tx.send(panics::catch(fut).await);
    });
    loop {
        let (outcome, back) = py.detach(move || (rx.recv_timeout(WAIT_SLICE), rx));
        rx = back;
        match outcome {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(panic)) => return Err(internal_pyerr(py, &panic)),
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

    /// pyo3-async-runtimes completes asyncio futures here, attached to Python:
    /// skipped once the interpreter is exiting (see [`shutdown`]).
    fn spawn_blocking<F>(f: F) -> Self::JoinHandle
    where
        F: FnOnce() + Send + 'static,
    {
        runtime().spawn_blocking(move || {
            // Counted before the check, so `shutdown` either sees it or it sees the flag.
            ACTIVE_COMPLETIONS.fetch_add(1, Ordering::SeqCst);
            if !FINALIZING.load(Ordering::SeqCst) {
                // The result's conversion is guarded ([`panics::Guarded`]): a panic
                // here is pyo3-async-runtimes' own, with no caller left to tell.
                if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
                    panics::log("completing an asyncio future", &panics::panic_text(payload));
                }
            }
            ACTIVE_COMPLETIONS.fetch_sub(1, Ordering::SeqCst);
        })
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
/// A panic in `fut` (or in converting its result) raises `InternalError` from
/// the awaitable, not pyo3-async-runtimes' `RustPanic`.
pub fn future_into_py<F, T>(py: Python<'_>, fut: F) -> PyResult<Bound<'_, PyAny>>
where
    F: Future<Output = PyResult<T>> + Send + 'static,
    T: for<'py> IntoPyObject<'py> + Send + 'static,
{
    let guarded = async move {
        match panics::catch(fut).await {
            Ok(result) => result.map(Guarded::Value),
            Err(panic) => Ok(Guarded::Panicked(panic)),
        }
    };
    pyo3_async_runtimes::generic::future_into_py::<ForkSafeRuntime, _, Guarded<T>>(py, guarded)
}
