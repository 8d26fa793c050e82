//! The online template miner.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::hash::fnv1a64;
use super::mask::{mask_line, WILDCARD};
use crate::id_hash::IdHash;

/// Stable identifier of a log signature (template).
///
/// Derived from the content of the first template of its cluster (FNV-1a 64 of the masked
/// token sequence), so two miners that meet the same first line agree on the id, and it does
/// not change when the template later generalises. Displayed as 16 lowercase hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SignatureId(pub u64);

impl fmt::Display for SignatureId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// Configuration of [`SignatureMiner`]. The defaults are the one configuration used for every
/// log source; nothing here is meant to be tuned per data set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MinerConfig {
    /// Distinct word values seen at one position (all else equal) before that position is
    /// declared variable. Two values (`opened`/`closed`) stay two signatures; three become one.
    pub min_distinct_values: usize,
    /// Share of tokens of a template that must stay constant after a position is generalised
    /// (0.0 to 1.0); stops short messages (`normal`, `warning`) collapsing into `<*>`.
    pub min_constant_share: f32,
    /// Lines longer than this many bytes are cut (at a character boundary) before masking.
    pub max_line_bytes: usize,
    /// Tokens after this many are folded into one trailing wildcard.
    pub max_tokens: usize,
    /// Bound of the masked-shape cache; it is cleared when full (signatures are kept).
    pub max_cached_shapes: usize,
}

impl MinerConfig {
    const fn default_const() -> Self {
        Self {
            min_distinct_values: 3,
            min_constant_share: 0.5,
            max_line_bytes: 64 * 1024,
            max_tokens: 256,
            max_cached_shapes: 1 << 20,
        }
    }
}

impl Default for MinerConfig {
    fn default() -> Self {
        Self::default_const()
    }
}

/// Distinct word values seen at one position, each with the cluster it created.
type PendingValues = Vec<(Box<str>, usize)>;

/// One signature as seen by the miner.
#[derive(Debug, Clone)]
struct Cluster {
    id: SignatureId,
    tokens: Vec<Box<str>>,
    template: String,
    /// Union-find parent (index into `clusters`); itself when this cluster is a root.
    parent: usize,
    /// Lines attributed to this cluster (merged clusters keep their own count).
    count: u64,
    /// Per position: distinct word values seen there in otherwise identical shapes, with the
    /// cluster each created.
    pending: Vec<(usize, PendingValues)>,
}

/// A summary of one signature for reporting and storage. Debug omits the template.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// Stable id.
    pub id: SignatureId,
    /// Template with `<*>` for variable parts.
    pub template: String,
    /// Lines attributed to the signature, including those of merged signatures.
    pub count: u64,
}

/// Online log template miner: variable parts masked, stable ids, streaming, bounded memory per
/// distinct template.
///
/// ```
/// use bacca_knowledge::signature::{MinerConfig, SignatureMiner};
/// let mut miner = SignatureMiner::new(MinerConfig::default());
/// let a = miner.observe("Deleted block blk_1 size 42");
/// let b = miner.observe("Deleted block blk_2 size 7");
/// assert_eq!(a, b);
/// assert_eq!(miner.template(a), Some("Deleted block <*> size <*>"));
/// ```
///
/// Debug shows counts only, never templates.
#[derive(Clone)]
pub struct SignatureMiner {
    config: MinerConfig,
    clusters: Vec<Cluster>,
    by_id: HashMap<SignatureId, usize, IdHash>,
    by_len: HashMap<usize, Vec<usize>, IdHash>,
    shapes: HashMap<Box<[u8]>, usize, IdHash>,
    buf: Vec<u8>,
    lines: u64,
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signature")
            .field("id", &self.id)
            .field("count", &self.count)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for SignatureMiner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignatureMiner")
            .field("config", &self.config)
            .field("signatures", &self.clusters.len())
            .field("cached_shapes", &self.shapes.len())
            .field("lines", &self.lines)
            .finish_non_exhaustive()
    }
}

impl SignatureMiner {
    /// Creates an empty miner.
    #[must_use]
    pub fn new(config: MinerConfig) -> Self {
        Self {
            config,
            clusters: Vec::new(),
            by_id: HashMap::default(),
            by_len: HashMap::default(),
            shapes: HashMap::default(),
            buf: Vec::with_capacity(256),
            lines: 0,
        }
    }

    /// The configuration in use.
    #[must_use]
    pub const fn config(&self) -> &MinerConfig {
        &self.config
    }

    /// Attributes one log line to a signature and returns its current id.
    ///
    /// Later lines can generalise a template and merge signatures; [`Self::resolve`] maps an id
    /// returned earlier to the signature it now belongs to.
    pub fn observe(&mut self, line: &str) -> SignatureId {
        let idx = self.observe_index(line);
        self.clusters[idx].id
    }

    fn observe_index(&mut self, line: &str) -> usize {
        self.lines += 1;
        let mut bytes = line.as_bytes();
        if bytes.len() > self.config.max_line_bytes {
            let mut cut = self.config.max_line_bytes;
            while cut > 0 && !line.is_char_boundary(cut) {
                cut -= 1;
            }
            bytes = &bytes[..cut];
        }
        let mut buf = std::mem::take(&mut self.buf);
        mask_line(bytes, self.config.max_tokens.max(1), &mut buf);
        let idx = if let Some(&c) = self.shapes.get(buf.as_slice()) {
            self.find(c)
        } else {
            let c = self.place(&buf);
            if self.shapes.len() >= self.config.max_cached_shapes {
                self.shapes.clear();
            }
            self.shapes.insert(buf.as_slice().into(), c);
            c
        };
        self.buf = buf;
        self.clusters[idx].count += 1;
        idx
    }

    /// Resolves an id (possibly of a signature merged since) to its current signature id.
    #[must_use]
    pub fn resolve(&self, id: SignatureId) -> Option<SignatureId> {
        let mut i = *self.by_id.get(&id)?;
        while self.clusters[i].parent != i {
            i = self.clusters[i].parent;
        }
        Some(self.clusters[i].id)
    }

    /// The current template of the signature `id` resolves to.
    #[must_use]
    pub fn template(&self, id: SignatureId) -> Option<&str> {
        let root = self.resolve(id)?;
        let i = *self.by_id.get(&root)?;
        Some(self.clusters[i].template.as_str())
    }

    /// Number of lines observed.
    #[must_use]
    pub const fn lines(&self) -> u64 {
        self.lines
    }

    /// Number of current (unmerged) signatures.
    #[must_use]
    pub fn len(&self) -> usize {
        self.clusters
            .iter()
            .enumerate()
            .filter(|(i, c)| c.parent == *i)
            .count()
    }

    /// True when no line has been observed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.clusters.is_empty()
    }

    /// Current signatures with their templates and line counts, most frequent first.
    #[must_use]
    pub fn signatures(&self) -> Vec<Signature> {
        let mut counts = vec![0u64; self.clusters.len()];
        for (i, c) in self.clusters.iter().enumerate() {
            let mut r = i;
            while self.clusters[r].parent != r {
                r = self.clusters[r].parent;
            }
            counts[r] += c.count;
        }
        let mut out: Vec<Signature> = self
            .clusters
            .iter()
            .enumerate()
            .filter(|(i, c)| c.parent == *i)
            .map(|(i, c)| Signature {
                id: c.id,
                template: c.template.clone(),
                count: counts[i],
            })
            .collect();
        out.sort_by(|a, b| b.count.cmp(&a.count).then(a.id.cmp(&b.id)));
        out
    }

    fn find(&mut self, mut i: usize) -> usize {
        let mut root = i;
        while self.clusters[root].parent != root {
            root = self.clusters[root].parent;
        }
        while self.clusters[i].parent != root {
            let next = self.clusters[i].parent;
            self.clusters[i].parent = root;
            i = next;
        }
        root
    }

    /// Places a shape not seen before: an existing template that covers it, a template that
    /// generalises to cover it, or a new signature.
    fn place(&mut self, shape: &[u8]) -> usize {
        let text = String::from_utf8_lossy(shape);
        let tokens: Vec<&str> = if text.is_empty() {
            Vec::new()
        } else {
            text.split(' ').collect()
        };
        let n = tokens.len();
        let mut near: Option<(usize, usize)> = None;
        if let Some(cands) = self.by_len.get(&n) {
            for &c in cands {
                let cl = &self.clusters[c];
                if cl.parent != c {
                    continue;
                }
                let mut diff = None;
                let mut diffs = 0;
                for (p, (a, b)) in cl.tokens.iter().zip(&tokens).enumerate() {
                    if &**a != WILDCARD && &**a != *b {
                        diffs += 1;
                        if diffs > 1 {
                            break;
                        }
                        diff = Some(p);
                    }
                }
                match (diffs, diff) {
                    (0, _) => return c,
                    (1, Some(p)) if near.is_none() => near = Some((c, p)),
                    _ => {}
                }
            }
        }
        if let Some((c, p)) = near {
            if let Some(merged) = self.try_generalise(c, p, &tokens) {
                return merged;
            }
        }
        self.create(&tokens)
    }

    fn try_generalise(&mut self, c: usize, p: usize, tokens: &[&str]) -> Option<usize> {
        let value = tokens[p];
        let cl = &self.clusters[c];
        let constants = cl.tokens.iter().filter(|t| &***t != WILDCARD).count();
        let n = cl.tokens.len();
        #[allow(clippy::cast_precision_loss)]
        let guard =
            constants > 1 && (constants - 1) as f32 >= self.config.min_constant_share * n as f32;
        let both_partial = value.contains(WILDCARD) && cl.tokens[p].contains(WILDCARD);
        let existing = cl
            .pending
            .iter()
            .find(|(q, _)| *q == p)
            .map_or(1, |(_, vals)| vals.len().max(1));
        let known = cl
            .pending
            .iter()
            .find(|(q, _)| *q == p)
            .is_some_and(|(_, vals)| vals.iter().any(|(v, _)| &**v == value));
        let distinct = existing + usize::from(!known);
        if guard && (both_partial || distinct >= self.config.min_distinct_values) {
            let merged: Vec<usize> = self.clusters[c]
                .pending
                .iter()
                .find(|(q, _)| *q == p)
                .map(|(_, vals)| vals.iter().map(|(_, o)| *o).collect())
                .unwrap_or_default();
            let cl = &mut self.clusters[c];
            cl.tokens[p] = WILDCARD.into();
            cl.template = cl.tokens.join(" ");
            cl.pending.retain(|(q, _)| *q != p);
            for o in merged {
                let root = self.find(o);
                if root != c {
                    self.clusters[root].parent = c;
                }
            }
            return Some(c);
        }
        if !guard {
            return None;
        }
        // Not yet variable: record the value and give it its own signature for now.
        let new = self.create(tokens);
        let own = self.clusters[c].tokens[p].clone();
        let cl = &mut self.clusters[c];
        if let Some((_, vals)) = cl.pending.iter_mut().find(|(q, _)| *q == p) {
            vals.push((value.into(), new));
        } else {
            cl.pending.push((p, vec![(own, c), (value.into(), new)]));
        }
        Some(new)
    }

    fn create(&mut self, tokens: &[&str]) -> usize {
        let template = tokens.join(" ");
        let mut h = fnv1a64(template.as_bytes());
        while self.by_id.contains_key(&SignatureId(h)) {
            h = fnv1a64(&h.to_le_bytes());
        }
        let id = SignatureId(h);
        let idx = self.clusters.len();
        self.clusters.push(Cluster {
            id,
            tokens: tokens.iter().map(|t| (*t).into()).collect(),
            template,
            parent: idx,
            count: 0,
            pending: Vec::new(),
        });
        self.by_id.insert(id, idx);
        self.by_len.entry(tokens.len()).or_default().push(idx);
        idx
    }
}
