//! `seedance-edge billing export`: the ledger streamed out page by page (`XRANGE … COUNT`), so
//! a ledger of millions of entries never sits in memory, and a resume cursor, so an export that
//! stops (a broken pipe, a Redis hiccup, a nightly job's time limit) continues exactly where it
//! stopped: no entry twice, none missed. Stream ids only grow within a tenant's stream, so the
//! cursor is the last entry id written per tenant.

use crate::store::{LedgerEntry, LedgerFrom, Store, StoreError};
use std::collections::BTreeMap;
use std::io::Write;

/// Entries read per round trip.
pub const PAGE: usize = 1000;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write the export: {0}")]
    Io(#[from] std::io::Error),
    #[error("--after {0:?}: use TENANT=ENTRY_ID[,TENANT=ENTRY_ID…], or a bare ENTRY_ID with --tenant")]
    BadCursor(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Jsonl,
    Csv,
}

/// The last exported entry id of each tenant: `acme=1781181802000-0,beta=…`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cursor(BTreeMap<String, String>);

impl Cursor {
    /// Parses `--after`; a bare entry id needs the one tenant it belongs to.
    pub fn parse(s: &str, tenant: Option<&str>) -> Result<Cursor, ExportError> {
        let bad = || ExportError::BadCursor(s.to_string());
        let valid_id = |id: &str| {
            id.split_once('-').is_some_and(|(ms, seq)| ms.parse::<u64>().is_ok() && seq.parse::<u64>().is_ok())
        };
        let mut map = BTreeMap::new();
        if !s.contains('=') {
            let t = tenant.ok_or_else(bad)?;
            if !valid_id(s) {
                return Err(bad());
            }
            map.insert(t.to_string(), s.to_string());
            return Ok(Cursor(map));
        }
        for part in s.split(',').filter(|p| !p.is_empty()) {
            let (t, id) = part.split_once('=').ok_or_else(bad)?;
            if t.is_empty() || !valid_id(id) {
                return Err(bad());
            }
            map.insert(t.to_string(), id.to_string());
        }
        Ok(Cursor(map))
    }

    pub fn get(&self, tenant: &str) -> Option<&str> {
        self.0.get(tenant).map(String::as_str)
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(t, id)| format!("{t}={id}")).collect();
        f.write_str(&parts.join(","))
    }
}

pub struct Export {
    /// Entries settled at or after this unix millisecond (tenants the cursor does not name).
    pub since_ms: i64,
    /// Entries settled before this unix millisecond.
    pub until_ms: Option<i64>,
    pub after: Cursor,
    pub format: Format,
    pub page: usize,
}

pub const CSV_HEADER: &str =
    "entry_id,tenant,task_id,settlement_id,channel,model,sku,tokens,unit_price,usd_nanos,at_ms";

/// Writes the tenants' ledgers to `out`. Returns the cursor of everything written, also when it
/// fails part way (the error comes with it), so the caller can always print where to resume.
pub async fn run(
    store: &dyn Store,
    tenants: &[String],
    opts: &Export,
    out: &mut dyn Write,
) -> (Cursor, Result<(), ExportError>) {
    let mut cursor = opts.after.clone();
    let result = write_all(store, tenants, opts, out, &mut cursor).await;
    (cursor, result)
}

async fn write_all(
    store: &dyn Store,
    tenants: &[String],
    opts: &Export,
    out: &mut dyn Write,
    cursor: &mut Cursor,
) -> Result<(), ExportError> {
    if opts.format == Format::Csv {
        writeln!(out, "{CSV_HEADER}")?;
    }
    for tenant in tenants {
        let mut from = match cursor.get(tenant) {
            Some(id) => LedgerFrom::After(id.to_string()),
            None => LedgerFrom::Since(opts.since_ms),
        };
        loop {
            let page = store.ledger_page(tenant, &from, opts.until_ms, opts.page).await?;
            for e in &page {
                write_entry(out, e, opts.format)?;
            }
            // The page is out before the cursor moves past it.
            out.flush()?;
            let Some(last) = page.last() else { break };
            cursor.0.insert(tenant.clone(), last.entry_id.clone());
            from = LedgerFrom::After(last.entry_id.clone());
            if page.len() < opts.page {
                break;
            }
        }
    }
    Ok(())
}

fn write_entry(out: &mut dyn Write, e: &LedgerEntry, format: Format) -> Result<(), ExportError> {
    match format {
        Format::Jsonl => {
            serde_json::to_writer(&mut *out, e).map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
        Format::Csv => {
            let price = e.unit_price.map(|p| p.to_string()).unwrap_or_default();
            let fields = [
                e.entry_id.as_str(),
                &e.tenant,
                &e.task_id,
                &e.settlement_id,
                &e.channel,
                &e.model,
                &e.sku,
                &e.tokens.to_string(),
                &price,
                &e.usd_nanos.to_string(),
                &e.at_ms.to_string(),
            ];
            let row: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
            writeln!(out, "{}", row.join(","))?;
        }
    }
    Ok(())
}

/// RFC 4180 quoting, and a leading `'` for text a spreadsheet would run as a formula.
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '@']) { format!("'{s}") } else { s.to_string() };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let c = Cursor::parse("acme=1-0,beta=2-5", None).unwrap();
        assert_eq!(c.get("beta"), Some("2-5"));
        assert_eq!(c.to_string(), "acme=1-0,beta=2-5");
        assert_eq!(Cursor::parse("7-1", Some("acme")).unwrap().to_string(), "acme=7-1");
        for bad in ["7-1", "acme=x", "=1-0", "acme=1"] {
            assert!(Cursor::parse(bad, None).is_err(), "{bad}");
        }
    }

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=SUM(A1)"), "'=SUM(A1)");
    }
}
