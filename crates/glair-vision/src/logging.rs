//! Opt-in diagnostics for the front doors (CLI, Python, Node). Library users who
//! have their own `tracing` subscriber never need this.
//!
//! Two outputs share one process-wide subscriber, installed on first use:
//! - stderr, off unless `GLAIR_LOG` (or, as a fallback, `RUST_LOG`) sets a filter
//!   ([`init_from_env`]); without ANSI colour unless stderr is a terminal, and
//!   never with `NO_COLOR` set;
//! - a sink ([`set_sink`]): a function that receives every record as a
//!   [`LogRecord`], for a binding to hand to Python's `logging` or a Node callback.
//!
//! Events are redacted where they are made (a NIK is masked, names and credentials
//! never appear), so a sink sees exactly what stderr would.

use std::io::IsTerminal as _;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
pub use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{reload, EnvFilter};

/// The environment variable read first; `RUST_LOG` is the fallback.
pub const ENV_LOG: &str = "GLAIR_LOG";

/// One log event as a sink receives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRecord {
    pub level: Level,
    /// Where it came from, e.g. `glair_vision::client`.
    pub target: String,
    pub message: String,
    /// The fields of the enclosing spans (outermost first), then the event's own,
    /// e.g. `("nik", "317101******0001")`, `("client_request_id", "order-17")`.
    pub fields: Vec<(String, String)>,
}

/// A function that receives log records. Called on the thread that logged: keep it
/// quick, and do not block on the SDK from inside it.
pub type Sink = Arc<dyn Fn(&LogRecord) + Send + Sync>;

/// The level a sink gets when [`set_sink`] is given none and none was set before:
/// every event the SDK emits.
pub const DEFAULT_SINK_LEVEL: LevelFilter = LevelFilter::DEBUG;

/// Installs a stderr subscriber filtered by `GLAIR_LOG`/`RUST_LOG`. Returns whether
/// stderr logging is now on. Does nothing when neither is set, or when the
/// process already has a global subscriber of someone else's.
pub fn init_from_env() -> bool {
    let Some(filter) = [ENV_LOG, "RUST_LOG"]
        .into_iter()
        .filter_map(|var| std::env::var(var).ok())
        .find(|v| !v.trim().is_empty())
    else {
        return false;
    };
    let filter = match EnvFilter::try_new(&filter) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("glair-vision: ignoring invalid {ENV_LOG}/RUST_LOG filter: {e}");
            return false;
        }
    };
    match global() {
        Some(g) => (g.set_stderr_filter)(filter),
        None => false,
    }
}

/// Sends every record at `level` or above to `sink`, replacing any sink set before.
/// `level: None` keeps the level set before ([`DEFAULT_SINK_LEVEL`] at first);
/// `sink: None` turns the sink off. Returns false when the process has a global
/// subscriber of someone else's (records then go there, not to the sink).
pub fn set_sink(level: Option<LevelFilter>, sink: Option<Sink>) -> bool {
    let Some(g) = global() else { return false };
    let on = sink.is_some();
    *g.sink.write().unwrap_or_else(|e| e.into_inner()) = sink;
    let mut current = g.sink_level.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(level) = level {
        *current = level;
    }
    (g.set_sink_filter)(if on { *current } else { LevelFilter::OFF })
}

/// Changes the level of the sink set with [`set_sink`] (kept for the next sink if
/// none is set). Returns false when the process has someone else's subscriber.
pub fn set_sink_level(level: LevelFilter) -> bool {
    let Some(g) = global() else { return false };
    let mut current = g.sink_level.lock().unwrap_or_else(|e| e.into_inner());
    *current = level;
    let on = g.sink.read().unwrap_or_else(|e| e.into_inner()).is_some();
    (g.set_sink_filter)(if on { level } else { LevelFilter::OFF })
}

/// Whether stderr output may use ANSI colour: only on a terminal, and never when
/// `NO_COLOR` is set (<https://no-color.org>).
pub fn stderr_colour() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// The handles of the process-wide subscriber: its filters can change while it runs.
struct Global {
    set_stderr_filter: Box<dyn Fn(EnvFilter) -> bool + Send + Sync>,
    set_sink_filter: Box<dyn Fn(LevelFilter) -> bool + Send + Sync>,
    sink: Arc<RwLock<Option<Sink>>>,
    sink_level: Mutex<LevelFilter>,
}

/// Installs the subscriber on first use; `None` when another one is global.
fn global() -> Option<&'static Global> {
    static GLOBAL: OnceLock<Option<Global>> = OnceLock::new();
    GLOBAL.get_or_init(install).as_ref()
}

fn install() -> Option<Global> {
    // Both outputs start off; reloading a filter also resets tracing's cached
    // interest, so an off output costs nothing per event.
    let (stderr_filter, stderr_handle) = reload::Layer::new(EnvFilter::new("off"));
    let (sink_filter, sink_handle) = reload::Layer::new(LevelFilter::OFF);
    let sink: Arc<RwLock<Option<Sink>>> = Arc::default();
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(stderr_colour())
        .with_filter(stderr_filter);
    let subscriber = tracing_subscriber::registry()
        .with(stderr)
        .with(SinkLayer { sink: sink.clone() }.with_filter(sink_filter));
    // `try_init` also routes the `log` crate's records (reqwest's) here, as before.
    subscriber.try_init().ok()?;
    Some(Global {
        set_stderr_filter: Box::new(move |f| stderr_handle.reload(f).is_ok()),
        set_sink_filter: Box::new(move |f| sink_handle.reload(f).is_ok()),
        sink,
        sink_level: Mutex::new(DEFAULT_SINK_LEVEL),
    })
}

/// Hands each event, with its spans' fields, to the current sink.
struct SinkLayer {
    sink: Arc<RwLock<Option<Sink>>>,
}

/// A span's fields, kept in its extensions for the events inside it.
struct SpanFields(Vec<(String, String)>);

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for SinkLayer {
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        let mut fields = FieldVisitor::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(fields.fields));
        }
    }

    fn on_record(&self, id: &tracing::span::Id, values: &tracing::span::Record<'_>, ctx: Context<'_, S>) {
        let mut more = FieldVisitor::default();
        values.record(&mut more);
        if let Some(span) = ctx.span(id) {
            if let Some(SpanFields(fields)) = span.extensions_mut().get_mut::<SpanFields>() {
                fields.extend(more.fields);
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        // Cloned out of the lock: a sink may log, or replace itself.
        let Some(sink) = self.sink.read().unwrap_or_else(|e| e.into_inner()).clone() else { return };
        let mut fields = Vec::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(SpanFields(f)) = span.extensions().get::<SpanFields>() {
                    fields.extend(f.iter().cloned());
                }
            }
        }
        let mut own = FieldVisitor::default();
        event.record(&mut own);
        fields.extend(own.fields);
        let meta = event.metadata();
        sink(&LogRecord {
            level: *meta.level(),
            target: meta.target().to_owned(),
            message: own.message.unwrap_or_default(),
            fields,
        });
    }
}

#[derive(Default)]
struct FieldVisitor {
    message: Option<String>,
    fields: Vec<(String, String)>,
}

impl FieldVisitor {
    fn push(&mut self, field: &Field, value: String) {
        if field.name() == "message" {
            self.message = Some(value);
        } else {
            self.fields.push((field.name().to_owned(), value));
        }
    }
}

impl Visit for FieldVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.push(field, format!("{value:?}"));
    }
}
