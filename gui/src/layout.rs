//! Layered (Sugiyama-style) automatic layout of the service graph.
//!
//! Requests flow from the client through the gateway to services and on to stores, so the
//! drawing reads left to right along that flow: every node gets a column (its *rank*), and
//! every edge that is not part of a cycle points right. The topology tiers cut across that
//! flow, so they are horizontal bands stacked top to bottom; a node keeps its rank's column in
//! whatever band it sits in, which keeps a call chain that crosses tiers straight.
//!
//! The layout is pure (no egui context) and deterministic: the same input always gives the same
//! picture, so a scenario reloaded after an edit does not jump around.
//!
//! Phases:
//! 1. **Ranks.** A depth-first search in node-index order marks back edges (sync-call cycles
//!    exist in flawed scenarios); ignoring them leaves a DAG, and each node's rank is its longest
//!    path from a source, raised to its `min_rank`. Sinks therefore land one rank after their
//!    furthest predecessor. Two touch-ups keep edges short: a source without a `min_rank` moves
//!    right to just before its nearest successor (a service nobody calls should sit by what it
//!    calls, not by the client), and a sink with no edges at all goes to the last column with the
//!    other stores.
//! 2. **Order.** Within each (band, rank) cell nodes start in index order, then alternating
//!    down/up barycentre sweeps reorder them; the ordering with the fewest crossings (between
//!    adjacent ranks) wins. Edges spanning several ranks take part through their endpoints only,
//!    weighted by 1/span, so the hundreds of long service→registry edges do not drown out the
//!    adjacent-rank ones. No dummy nodes: with every service linked to the registry in the last
//!    column, they would multiply the work on big graphs.
//! 3. **Coordinates.** Ranks are column groups left to right; within a band a cell's nodes fill
//!    rows top down. A cell of more than `rows_max` nodes wraps into `ceil(len / rows_max)`
//!    sub-columns filled row by row (left to right, then down), and the rows are balanced, so 41
//!    nodes give two sub-columns of 21 and 20 rather than 40 and 1. Row-major filling keeps the
//!    sweep's order top-to-bottom, which is what the crossing reduction optimised. A rank is as
//!    wide as its widest cell, and narrower cells are centred in it. Nodes sit on their band's
//!    row grid, but a short (unwrapped) cell need not fill its top rows: its nodes move down the
//!    grid towards their neighbours' rows, in order, which straightens edges (see
//!    [`align_rows`]).

use eframe::egui::{Pos2, Rect, Vec2, pos2, vec2};

/// Which horizontal band a node is drawn in (topology tiers, top to bottom: local edge, regional
/// edge, cloud; then untiered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Band {
    LocalEdge,
    RegionalEdge,
    Cloud,
    Untiered,
}

impl Band {
    /// The band's label in the drawing.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Band::LocalEdge => "local edge",
            Band::RegionalEdge => "regional edge",
            Band::Cloud => "cloud",
            Band::Untiered => "no tier",
        }
    }
}

impl Band {
    const COUNT: usize = 4;

    /// Bands are stacked in declaration order, so the index doubles as the stacking position.
    fn index(self) -> usize {
        match self {
            Band::LocalEdge => 0,
            Band::RegionalEdge => 1,
            Band::Cloud => 2,
            Band::Untiered => 3,
        }
    }

    fn from_index(index: usize) -> Band {
        match index {
            0 => Band::LocalEdge,
            1 => Band::RegionalEdge,
            2 => Band::Cloud,
            _ => Band::Untiered,
        }
    }
}

/// One node to place; the layout needs nothing else about it (not even its size: all boxes are
/// `Spacing::node`).
#[derive(Debug, Clone)]
pub struct LayoutNode {
    pub band: Band,
    /// Preferred column (rank) lower bound, e.g. client 0, gateway 1, so the entry points stay
    /// at the left edge however the rest of the graph looks; `None` = computed from edges.
    pub min_rank: Option<u32>,
    /// True for sinks that should go in the last columns (stores, caches, brokers): they are
    /// placed one rank after their furthest predecessor, or in the last column if unconnected.
    pub sink: bool,
}

/// A directed edge between two indices into the node slice. Edges naming a node that does not
/// exist are ignored rather than panicking, so a half-edited scenario still draws.
#[derive(Debug, Clone, Copy)]
pub struct LayoutEdge {
    pub from: usize,
    pub to: usize,
}

/// Where everything goes, in scene units (origin at the top-left of the first band); the viewer
/// pans and zooms over it.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Centre of each node, same order as the input nodes.
    pub centres: Vec<Pos2>,
    /// Each non-empty band's rectangle (full width of the drawing), top to bottom.
    pub bands: Vec<(Band, Rect)>,
    /// Bounding box of everything, with a margin (the bands' padding); `Rect::ZERO` for an
    /// empty graph, so zoom-to-fit never sees infinities.
    pub bounds: Rect,
    /// How far the outermost node centres sit inside their band's rectangle (and inside
    /// `bounds`): band padding plus half a box. The viewer spreads node centres apart to fill
    /// its panel but keeps this margin as it is, so it needs to know where it ends.
    pub margin: Vec2,
}

/// Sizes in scene units (the viewer zooms, so these only fix proportions).
/// The size of a node's box, in layout units (the graph and the exports draw boxes this size).
pub const NODE_SIZE: Vec2 = vec2(150.0, 46.0);

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spacing {
    /// Node box size.
    pub node: Vec2,
    /// Between boxes: x between columns, y between rows.
    pub gap: Vec2,
    /// Padding inside a band around its boxes; it also separates boxes of adjacent bands.
    pub band_pad: f32,
    /// Rows a cell may have before it wraps into sub-columns (at least 1).
    pub rows_max: usize,
}

impl Default for Spacing {
    fn default() -> Self {
        Spacing { node: NODE_SIZE, gap: vec2(70.0, 22.0), band_pad: 28.0, rows_max: MAX_ROWS }
    }
}

/// The default of [`Spacing::rows_max`]: about a screen's height of boxes at a
/// readable zoom, so 1,000 services in one rank become a 25 × 40 block instead of a 40,000-unit
/// line.
pub const MAX_ROWS: usize = 40;

/// Barycentre sweeps (alternating down/up). Most of the gain comes in the first few; the best
/// ordering seen is kept, so more sweeps can never make the picture worse, only slower.
const SWEEPS: usize = 8;

/// Row-alignment passes (alternating direction); the gain flattens out after about four.
const ALIGN_PASSES: usize = 4;

/// Lays out the graph: columns by rank, bands by tier, crossings reduced. See the module docs.
pub fn layered(nodes: &[LayoutNode], edges: &[LayoutEdge], spacing: &Spacing) -> Layout {
    layered_with(nodes, edges, spacing, SWEEPS)
}

/// Crossings between edges joining adjacent ranks in `layout`, which must come from
/// [`layered`] on the same `nodes` and `edges`. Within a rank, nodes are ordered top to bottom
/// (left to right within a row of a wrapped cell). This is the measure the crossing reduction
/// minimises, exposed so callers and tests can check it rather than eyeball it. 0 if `layout`
/// has a different number of nodes.
pub fn crossings(nodes: &[LayoutNode], edges: &[LayoutEdge], layout: &Layout) -> usize {
    if layout.centres.len() != nodes.len() {
        return 0;
    }
    let rank = ranking(nodes, edges).rank;
    let mut by_rank: Vec<usize> = (0..nodes.len()).collect();
    by_rank.sort_by(|&a, &b| {
        let (pa, pb) = (layout.centres[a], layout.centres[b]);
        rank[a].cmp(&rank[b]).then(pa.y.total_cmp(&pb.y)).then(pa.x.total_cmp(&pb.x))
    });
    let mut slot = vec![0; nodes.len()];
    let mut i = 0;
    while i < by_rank.len() {
        let r = rank[by_rank[i]];
        let mut j = i;
        while j < by_rank.len() && rank[by_rank[j]] == r {
            slot[by_rank[j]] = j - i;
            j += 1;
        }
        i = j;
    }
    count_crossings(&rank, &slot, edges)
}

/// Per edge: true if the layout drew it against the flow, i.e. it closes a cycle (a back edge of
/// the index-order search, including self-loops) or names a missing node. Every other edge
/// points strictly right, so the viewer can route just these few differently (e.g. curved).
pub fn back_edges(nodes: &[LayoutNode], edges: &[LayoutEdge]) -> Vec<bool> {
    ranking(nodes, edges).back
}

/// Ranks and the edges that ranking ignored.
#[derive(Debug)]
struct Ranking {
    /// Column of each node.
    rank: Vec<usize>,
    /// Per edge: true if it was left out of ranking (back edge of a cycle, self-loop, or an
    /// index out of range). Every other edge goes strictly right.
    back: Vec<bool>,
}

/// Phase 1. Everything is in index order (roots, out-edges), so cycles are broken the same way
/// on every load.
fn ranking(nodes: &[LayoutNode], edges: &[LayoutEdge]) -> Ranking {
    let n = nodes.len();
    let valid = |e: &LayoutEdge| e.from < n && e.to < n;

    // Out-adjacency in CSR form: (target, edge index), in edge order.
    let mut start = vec![0usize; n + 1];
    for e in edges.iter().filter(|e| valid(e)) {
        start[e.from + 1] += 1;
    }
    for v in 0..n {
        start[v + 1] += start[v];
    }
    let mut fill = start.clone();
    let mut out = vec![(0usize, 0usize); start[n]];
    for (i, e) in edges.iter().enumerate().filter(|(_, e)| valid(e)) {
        out[fill[e.from]] = (e.to, i);
        fill[e.from] += 1;
    }

    // Iterative DFS (a 1,000-service call chain must not overflow the stack). An edge to a node
    // still on the stack closes a cycle: that is the back edge.
    const WHITE: u8 = 0;
    const GREY: u8 = 1;
    const BLACK: u8 = 2;
    let mut state = vec![WHITE; n];
    let mut back: Vec<bool> = edges.iter().map(|e| !valid(e)).collect();
    let mut postorder = Vec::with_capacity(n);
    let mut stack: Vec<(usize, usize)> = Vec::new();
    for root in 0..n {
        if state[root] != WHITE {
            continue;
        }
        state[root] = GREY;
        stack.push((root, start[root]));
        while let Some(top) = stack.last_mut() {
            let v = top.0;
            if top.1 < start[v + 1] {
                let (w, e) = out[top.1];
                top.1 += 1;
                match state[w] {
                    WHITE => {
                        state[w] = GREY;
                        stack.push((w, start[w]));
                    }
                    GREY => back[e] = true,
                    _ => {}
                }
            } else {
                state[v] = BLACK;
                postorder.push(v);
                stack.pop();
            }
        }
    }

    // Reverse postorder is a topological order of the remaining DAG, so one pass gives every
    // node its longest path from a source.
    let floor = |v: usize| nodes[v].min_rank.map_or(0, |r| r as usize);
    let mut rank = vec![0usize; n];
    let mut has_pred = vec![false; n];
    for &v in postorder.iter().rev() {
        rank[v] = rank[v].max(floor(v));
        for &(w, e) in &out[start[v]..start[v + 1]] {
            if !back[e] {
                rank[w] = rank[w].max(rank[v] + 1);
                has_pred[w] = true;
            }
        }
    }

    let forward = |v: usize| out[start[v]..start[v + 1]].iter().filter(|&&(_, e)| !back[e]);
    for v in 0..n {
        if has_pred[v] || nodes[v].min_rank.is_some() {
            continue;
        }
        // Moving a source right up to its nearest successor breaks no constraint (it has no
        // predecessors) and changes no other rank.
        if let Some(nearest) = forward(v).map(|&(w, _)| rank[w]).min() {
            rank[v] = nearest - 1;
        }
    }
    let unconnected_sink = |v: usize| nodes[v].sink && !has_pred[v] && forward(v).next().is_none();
    let last = (0..n).filter(|&v| !unconnected_sink(v)).map(|v| rank[v]).max().unwrap_or(0);
    for (v, r) in rank.iter_mut().enumerate() {
        if unconnected_sink(v) {
            *r = last.max(floor(v));
        }
    }

    Ranking { rank, back }
}

/// Crossings between edges joining adjacent ranks, given each node's position (`slot`) within
/// its rank. Sorting the edges of a rank pair by (left slot, right slot) and counting inversions
/// of the right slots with a Fenwick tree makes this O(E log E), cheap enough to run after every
/// sweep. Edges sharing an endpoint do not count as crossing.
fn count_crossings(rank: &[usize], slot: &[usize], edges: &[LayoutEdge]) -> usize {
    let n = rank.len();
    let mut pairs: Vec<(usize, usize, usize)> = edges
        .iter()
        .filter(|e| e.from < n && e.to < n && rank[e.from].abs_diff(rank[e.to]) == 1)
        .map(|e| {
            let (l, r) = if rank[e.from] < rank[e.to] { (e.from, e.to) } else { (e.to, e.from) };
            (rank[l], slot[l], slot[r])
        })
        .collect();
    pairs.sort_unstable();

    let mut tree: Vec<usize> = Vec::new();
    let mut total = 0;
    let mut i = 0;
    while i < pairs.len() {
        let r = pairs[i].0;
        let mut j = i;
        while j < pairs.len() && pairs[j].0 == r {
            j += 1;
        }
        let group = &pairs[i..j];
        let size = group.iter().map(|p| p.2).max().map_or(0, |m| m + 1);
        tree.clear();
        tree.resize(size + 1, 0);
        for (inserted, &(_, _, right)) in group.iter().enumerate() {
            // An earlier edge (smaller left slot, or the same one and a right slot no greater)
            // crosses this one iff its right slot is greater.
            let mut not_greater = 0;
            let mut k = right + 1;
            while k > 0 {
                not_greater += tree[k];
                k &= k - 1;
            }
            total += inserted - not_greater;
            let mut k = right + 1;
            while k <= size {
                tree[k] += 1;
                k += k & k.wrapping_neg();
            }
        }
        i = j;
    }
    total
}

/// [`layered`] with a chosen number of sweeps, so tests can compare against no reduction.
fn layered_with(
    nodes: &[LayoutNode],
    edges: &[LayoutEdge],
    spacing: &Spacing,
    sweeps: usize,
) -> Layout {
    let n = nodes.len();
    if n == 0 {
        return Layout {
            centres: Vec::new(),
            bands: Vec::new(),
            bounds: Rect::ZERO,
            margin: Vec2::ZERO,
        };
    }
    let rank = ranking(nodes, edges).rank;
    let ranks = rank.iter().max().map_or(0, |&r| r + 1);

    // Dense band indices: empty bands take no space.
    let mut present = [false; Band::COUNT];
    for node in nodes {
        present[node.band.index()] = true;
    }
    let used: Vec<Band> = (0..Band::COUNT).filter(|&i| present[i]).map(Band::from_index).collect();
    let mut dense = [0usize; Band::COUNT];
    for (d, band) in used.iter().enumerate() {
        dense[band.index()] = d;
    }
    let band_of: Vec<usize> = nodes.iter().map(|node| dense[node.band.index()]).collect();

    // cells[b * ranks + r]: the nodes of band b in rank r, top to bottom.
    let cell_of = |v: usize| band_of[v] * ranks + rank[v];
    let mut cells: Vec<Vec<usize>> = vec![Vec::new(); used.len() * ranks];
    for v in 0..n {
        cells[cell_of(v)].push(v);
    }

    // Geometry depends only on cell sizes, not on the order within cells, so it is fixed before
    // the sweeps and they can work with real y coordinates across bands.
    let sub_columns: Vec<usize> =
        cells.iter().map(|c| c.len().div_ceil(spacing.rows_max.max(1)).max(1)).collect();
    let rows = |c: usize| cells[c].len().div_ceil(sub_columns[c]);
    let pitch = spacing.node + spacing.gap;
    let pad = spacing.band_pad;

    let rank_width: Vec<usize> = (0..ranks)
        .map(|r| (0..used.len()).map(|b| sub_columns[b * ranks + r]).max().unwrap_or(1))
        .collect();
    let mut column_start = Vec::with_capacity(ranks);
    let mut columns = 0;
    for &w in &rank_width {
        column_start.push(columns);
        columns += w;
    }
    let width = 2.0 * pad + columns as f32 * pitch.x - spacing.gap.x;

    let mut band_top = Vec::with_capacity(used.len());
    let mut band_rows = Vec::with_capacity(used.len());
    let mut band_rects = Vec::with_capacity(used.len());
    let mut top = 0.0;
    for (b, &band) in used.iter().enumerate() {
        let tallest = (0..ranks).map(|r| rows(b * ranks + r)).max().unwrap_or(1).max(1);
        let height = 2.0 * pad + tallest as f32 * pitch.y - spacing.gap.y;
        band_top.push(top);
        band_rows.push(tallest);
        band_rects.push((band, Rect::from_min_size(pos2(0.0, top), vec2(width, height))));
        top += height;
    }

    // Ordering coordinate: the node's row, linearised over sub-columns (i / k rows down) so that
    // nodes sharing a row of a wrapped cell still have distinct, order-preserving positions.
    let mut pos = vec![0.0f32; n];
    let place = |cells: &[Vec<usize>], c: usize, pos: &mut [f32]| {
        let k = sub_columns[c] as f32;
        let base = band_top[c / ranks] + pad;
        for (i, &v) in cells[c].iter().enumerate() {
            pos[v] = base + i as f32 / k * pitch.y;
        }
    };
    for c in 0..cells.len() {
        place(&cells, c, &mut pos);
    }

    // Undirected adjacency (back edges are drawn too, so they count), without self-loops.
    let mut start = vec![0usize; n + 1];
    let real = |e: &&LayoutEdge| e.from < n && e.to < n && e.from != e.to;
    for e in edges.iter().filter(real) {
        start[e.from + 1] += 1;
        start[e.to + 1] += 1;
    }
    for v in 0..n {
        start[v + 1] += start[v];
    }
    let mut fill = start.clone();
    let mut adjacent = vec![0usize; start[n]];
    for e in edges.iter().filter(real) {
        adjacent[fill[e.from]] = e.to;
        fill[e.from] += 1;
        adjacent[fill[e.to]] = e.from;
        fill[e.to] += 1;
    }

    let slots = |cells: &[Vec<usize>]| {
        let mut slot = vec![0usize; n];
        for r in 0..ranks {
            let mut offset = 0;
            for b in 0..used.len() {
                for (i, &v) in cells[b * ranks + r].iter().enumerate() {
                    slot[v] = offset + i;
                }
                offset += cells[b * ranks + r].len();
            }
        }
        slot
    };

    let mut best = cells.clone();
    let mut best_crossings = count_crossings(&rank, &slots(&cells), edges);
    let mut keyed: Vec<(f32, usize, usize)> = Vec::new();
    for sweep in 0..sweeps {
        if best_crossings == 0 || ranks < 2 {
            break;
        }
        let down = sweep % 2 == 0;
        let order: Vec<usize> =
            if down { (1..ranks).collect() } else { (0..ranks - 1).rev().collect() };
        for r in order {
            for b in 0..used.len() {
                let c = b * ranks + r;
                if cells[c].len() < 2 {
                    continue;
                }
                keyed.clear();
                for (i, &v) in cells[c].iter().enumerate() {
                    let (mut sum, mut weight) = (0.0f32, 0.0f32);
                    for &u in &adjacent[start[v]..start[v + 1]] {
                        if (down && rank[u] < r) || (!down && rank[u] > r) {
                            let w = 1.0 / r.abs_diff(rank[u]) as f32;
                            sum += w * pos[u];
                            weight += w;
                        }
                    }
                    // No neighbour on that side: stay put rather than drift to the top.
                    let key = if weight > 0.0 { sum / weight } else { pos[v] };
                    keyed.push((key, i, v));
                }
                keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                for (slot, &(_, _, v)) in cells[c].iter_mut().zip(&keyed) {
                    *slot = v;
                }
                place(&cells, c, &mut pos);
            }
        }
        let now = count_crossings(&rank, &slots(&cells), edges);
        if now < best_crossings {
            best_crossings = now;
            best.clone_from(&cells);
        }
    }

    let row = align_rows(&best, &sub_columns, &band_rows, ranks, |v, row: &[usize]| {
        let mut sum = 0.0;
        let mut weight = 0.0;
        for &u in &adjacent[start[v]..start[v + 1]] {
            let w = 1.0 / rank[v].abs_diff(rank[u]).max(1) as f32;
            sum += w * (band_top[band_of[u]] + row[u] as f32 * pitch.y);
            weight += w;
        }
        (weight > 0.0).then(|| (sum / weight - band_top[band_of[v]]) / pitch.y)
    });

    let mut centres = vec![Pos2::ZERO; n];
    for (c, cell) in best.iter().enumerate() {
        let (b, r) = (c / ranks, c % ranks);
        let k = sub_columns[c];
        // Centre a narrower cell within its rank's column group.
        let left = pad
            + column_start[r] as f32 * pitch.x
            + (rank_width[r] - k) as f32 * pitch.x / 2.0
            + spacing.node.x / 2.0;
        let top = band_top[b] + pad + spacing.node.y / 2.0;
        for (i, &v) in cell.iter().enumerate() {
            centres[v] = pos2(left + (i % k) as f32 * pitch.x, top + row[v] as f32 * pitch.y);
        }
    }

    let bounds = band_rects.iter().fold(Rect::NOTHING, |acc, (_, rect)| acc.union(*rect));
    let margin = Vec2::splat(pad) + spacing.node / 2.0;
    Layout { centres, bands: band_rects, bounds, margin }
}

/// Phase 3's vertical placement: which grid row of its band each node takes. Packing every cell
/// from the top would leave a short column's nodes far above the neighbours they connect to,
/// and the long diagonals that follow cross many other edges (on a 50-service generated
/// scenario, aligning removes about a quarter of the straight-line crossings). So a cell that
/// is shorter than its band and not wrapped spreads over the band's rows: each node asks for the
/// row of the (1/span-weighted) mean of its neighbours, `want(node, rows)`, and the cell takes
/// the closest strictly increasing rows, which keeps the sweeps' order. Alternating left-to-right
/// and right-to-left passes let requests propagate both ways. Wrapped cells stay packed: they
/// fill their rows anyway.
fn align_rows(
    cells: &[Vec<usize>],
    sub_columns: &[usize],
    band_rows: &[usize],
    ranks: usize,
    want: impl Fn(usize, &[usize]) -> Option<f32>,
) -> Vec<usize> {
    let n = cells.iter().map(Vec::len).sum();
    let mut row = vec![0usize; n];
    for (c, cell) in cells.iter().enumerate() {
        for (i, &v) in cell.iter().enumerate() {
            row[v] = i / sub_columns[c];
        }
    }
    let mut targets = Vec::new();
    for pass in 0..ALIGN_PASSES {
        for step in 0..ranks {
            let r = if pass % 2 == 0 { step } else { ranks - 1 - step };
            for (b, &height) in band_rows.iter().enumerate() {
                let c = b * ranks + r;
                let len = cells[c].len();
                if sub_columns[c] > 1 || len == 0 || len >= height {
                    continue;
                }
                // Strictly increasing rows r_i are non-decreasing r_i - i: fit those to the
                // requests, then shift back.
                targets.clear();
                for (i, &v) in cells[c].iter().enumerate() {
                    targets.push(want(v, &row).unwrap_or(row[v] as f32) - i as f32);
                }
                nondecreasing_fit(&mut targets);
                let room = (height - len) as f32;
                for (i, &v) in cells[c].iter().enumerate() {
                    row[v] = targets[i].round().clamp(0.0, room) as usize + i;
                }
            }
        }
    }
    row
}

/// Least-squares non-decreasing fit (pool adjacent violators), in place: O(len).
fn nondecreasing_fit(values: &mut [f32]) {
    let mut blocks: Vec<(f32, usize)> = Vec::new();
    for &x in values.iter() {
        let (mut sum, mut count) = (x, 1usize);
        while let Some(&(s, c)) = blocks.last() {
            if s / c as f32 > sum / count as f32 {
                sum += s;
                count += c;
                blocks.pop();
            } else {
                break;
            }
        }
        blocks.push((sum, count));
    }
    let mut i = 0;
    for (sum, count) in blocks {
        values[i..i + count].fill(sum / count as f32);
        i += count;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn node(band: Band) -> LayoutNode {
        LayoutNode { band, min_rank: None, sink: false }
    }

    fn sink(band: Band) -> LayoutNode {
        LayoutNode { band, min_rank: None, sink: true }
    }

    fn fixed(band: Band, rank: u32) -> LayoutNode {
        LayoutNode { band, min_rank: Some(rank), sink: false }
    }

    fn edge(from: usize, to: usize) -> LayoutEdge {
        LayoutEdge { from, to }
    }

    /// Tiny deterministic generator, so the big graph is the same on every run.
    struct Lcg(u64);

    impl Lcg {
        fn below(&mut self, n: usize) -> usize {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((self.0 >> 33) % n as u64) as usize
        }
    }

    const BANDS: [Band; 4] = [Band::LocalEdge, Band::RegionalEdge, Band::Cloud, Band::Untiered];

    /// A scenario-shaped graph: client 0, gateway 1, registry 2, then services, stores, caches
    /// and brokers, with sync calls (cycles included), publishes, subscriptions and registry
    /// edges. `services` = 720 gives about 1,000 nodes and 3,000 edges.
    fn scenario(services: usize, seed: u64) -> (Vec<LayoutNode>, Vec<LayoutEdge>) {
        let mut rng = Lcg(seed);
        let mut nodes =
            vec![fixed(Band::LocalEdge, 0), fixed(Band::Cloud, 1), sink(Band::Untiered)];
        let first_service = nodes.len();
        for _ in 0..services {
            nodes.push(node(BANDS[rng.below(4)]));
        }
        let first_store = nodes.len();
        let stores = services / 4 + services / 10;
        for _ in 0..stores {
            nodes.push(sink(BANDS[rng.below(3)]));
        }
        let first_broker = nodes.len();
        let brokers = services / 20 + 1;
        for _ in 0..brokers {
            nodes.push(sink(BANDS[rng.below(3)]));
        }

        let mut edges = vec![edge(0, 1)];
        for s in first_service..first_store {
            if rng.below(10) == 0 {
                edges.push(edge(1, s));
            }
            for _ in 0..rng.below(3) + 1 {
                edges.push(edge(s, first_service + rng.below(services)));
            }
            edges.push(edge(s, 2));
            if rng.below(2) == 0 {
                edges.push(edge(s, first_store + rng.below(stores)));
            }
            if rng.below(5) == 0 {
                edges.push(edge(s, first_broker + rng.below(brokers)));
            }
        }
        for b in first_broker..nodes.len() {
            for _ in 0..rng.below(3) + 1 {
                edges.push(edge(b, first_service + rng.below(services)));
            }
        }
        (nodes, edges)
    }

    /// A clean three-tier system: client → gateway → services in several bands, chains of
    /// calls, stores, a broker with subscribers.
    fn small() -> (Vec<LayoutNode>, Vec<LayoutEdge>) {
        let nodes = vec![
            fixed(Band::LocalEdge, 0),
            fixed(Band::Cloud, 1),
            sink(Band::Untiered),
            node(Band::Cloud),
            node(Band::RegionalEdge),
            node(Band::LocalEdge),
            node(Band::Cloud),
            sink(Band::Cloud),
            sink(Band::RegionalEdge),
            sink(Band::Cloud),
            node(Band::Cloud),
            sink(Band::Cloud),
        ];
        let edges = vec![
            edge(0, 1),
            edge(1, 3),
            edge(1, 4),
            edge(3, 5),
            edge(3, 6),
            edge(4, 6),
            edge(6, 7),
            edge(4, 8),
            edge(3, 9),
            edge(9, 10),
            edge(3, 2),
            edge(4, 2),
            edge(5, 2),
            edge(6, 2),
            edge(10, 2),
        ];
        (nodes, edges)
    }

    fn graphs() -> Vec<(Vec<LayoutNode>, Vec<LayoutEdge>)> {
        let mut cycle = small();
        cycle.1.extend([edge(6, 3), edge(5, 5), edge(10, 4)]);
        vec![small(), cycle, scenario(60, 7), scenario(720, 42), one_wide_rank(1000)]
    }

    /// Gateway calling `services` public services: one rank that must wrap.
    fn one_wide_rank(services: usize) -> (Vec<LayoutNode>, Vec<LayoutEdge>) {
        let mut nodes = vec![fixed(Band::LocalEdge, 0), fixed(Band::Cloud, 1)];
        let mut edges = vec![edge(0, 1)];
        for s in 0..services {
            nodes.push(node(Band::Cloud));
            edges.push(edge(1, 2 + s));
        }
        (nodes, edges)
    }

    fn boxes(layout: &Layout, spacing: &Spacing) -> Vec<Rect> {
        layout.centres.iter().map(|&c| Rect::from_center_size(c, spacing.node)).collect()
    }

    fn overlap(a: Rect, b: Rect) -> bool {
        a.min.x < b.max.x && b.min.x < a.max.x && a.min.y < b.max.y && b.min.y < a.max.y
    }

    #[test]
    fn no_two_boxes_overlap() {
        let spacing = Spacing::default();
        for (nodes, edges) in graphs() {
            let layout = layered(&nodes, &edges, &spacing);
            assert_eq!(layout.centres.len(), nodes.len());
            let mut boxes = boxes(&layout, &spacing);
            boxes.sort_by(|a, b| a.min.x.total_cmp(&b.min.x));
            for (i, a) in boxes.iter().enumerate() {
                for b in boxes[i + 1..].iter().take_while(|b| b.min.x < a.max.x) {
                    assert!(!overlap(*a, *b), "{a:?} overlaps {b:?}");
                }
            }
        }
    }

    #[test]
    fn nodes_sit_in_their_band_and_bands_stack_without_overlap() {
        let spacing = Spacing::default();
        for (nodes, edges) in graphs() {
            let layout = layered(&nodes, &edges, &spacing);
            let mut present: Vec<Band> = nodes.iter().map(|n| n.band).collect();
            present.sort();
            present.dedup();
            let listed: Vec<Band> = layout.bands.iter().map(|(b, _)| *b).collect();
            assert_eq!(listed, present, "every non-empty band, in order, and no empty one");
            for pair in layout.bands.windows(2) {
                assert!(pair[0].1.max.y <= pair[1].1.min.y, "bands overlap: {pair:?}");
                assert_eq!(pair[0].1.x_range(), pair[1].1.x_range(), "bands span the full width");
            }
            for (v, rect) in boxes(&layout, &spacing).into_iter().enumerate() {
                let band = layout.bands.iter().find(|(b, _)| *b == nodes[v].band).unwrap().1;
                assert!(band.contains_rect(rect), "node {v} {rect:?} outside its band {band:?}");
                assert!(layout.bounds.contains_rect(band));
            }
        }
    }

    #[test]
    fn edges_that_are_not_back_edges_point_right() {
        let spacing = Spacing::default();
        for (nodes, edges) in graphs() {
            let ranking = ranking(&nodes, &edges);
            let layout = layered(&nodes, &edges, &spacing);
            for (i, e) in edges.iter().enumerate().filter(|(i, _)| !ranking.back[*i]) {
                assert!(ranking.rank[e.from] < ranking.rank[e.to], "edge {i} {e:?}");
                assert!(layout.centres[e.from].x < layout.centres[e.to].x, "edge {i} {e:?}");
            }
            // Ranks are column groups: a higher rank is always further right.
            for a in 0..nodes.len().min(200) {
                for b in 0..nodes.len().min(200) {
                    if ranking.rank[a] < ranking.rank[b] {
                        assert!(layout.centres[a].x < layout.centres[b].x);
                    }
                }
            }
        }
    }

    #[test]
    fn min_rank_is_honoured() {
        let (nodes, edges) = scenario(60, 3);
        let ranking = ranking(&nodes, &edges);
        assert_eq!(ranking.rank[0], 0, "client");
        assert_eq!(ranking.rank[1], 1, "gateway");
        for (v, n) in nodes.iter().enumerate() {
            if let Some(min) = n.min_rank {
                assert!(ranking.rank[v] >= min as usize);
            }
        }

        // A floor above what the edges ask for pushes the node and its successors right.
        let nodes = vec![fixed(Band::Cloud, 0), fixed(Band::Cloud, 3), node(Band::Cloud)];
        let edges = [edge(0, 1), edge(1, 2)];
        assert_eq!(super::ranking(&nodes, &edges).rank, vec![0, 3, 4]);
        let layout = layered(&nodes, &edges, &Spacing::default());
        assert!(layout.centres[0].x < layout.centres[1].x);
    }

    #[test]
    fn sinks_go_one_rank_after_their_furthest_predecessor() {
        let spacing = Spacing::default();
        for (nodes, edges) in graphs() {
            let ranking = ranking(&nodes, &edges);
            let layout = layered(&nodes, &edges, &spacing);
            for (v, _) in nodes.iter().enumerate().filter(|(_, n)| n.sink) {
                let preds: Vec<usize> = edges
                    .iter()
                    .enumerate()
                    .filter(|(i, e)| e.to == v && !ranking.back[*i])
                    .map(|(_, e)| e.from)
                    .collect();
                for &p in &preds {
                    assert!(layout.centres[p].x < layout.centres[v].x, "sink {v} left of {p}");
                }
                if let Some(furthest) = preds.iter().map(|&p| ranking.rank[p]).max() {
                    assert_eq!(ranking.rank[v], furthest + 1, "sink {v}");
                }
            }
        }

        // An unconnected store goes to the last column, not next to the client.
        let nodes =
            vec![fixed(Band::Cloud, 0), node(Band::Cloud), sink(Band::Cloud), sink(Band::Cloud)];
        let edges = [edge(0, 1), edge(1, 2)];
        assert_eq!(ranking(&nodes, &edges).rank, vec![0, 1, 2, 2]);
    }

    #[test]
    fn uncalled_services_sit_next_to_what_they_call() {
        // 0 → 1 → 2 → 3, and 4 (called by nobody, no floor) calls 3.
        let nodes = vec![
            fixed(Band::Cloud, 0),
            node(Band::Cloud),
            node(Band::Cloud),
            node(Band::Cloud),
            node(Band::Cloud),
        ];
        let edges = [edge(0, 1), edge(1, 2), edge(2, 3), edge(4, 3)];
        assert_eq!(ranking(&nodes, &edges).rank, vec![0, 1, 2, 3, 2]);
    }

    #[test]
    fn crossing_reduction_untangles_a_bad_index_order() {
        // Two ranks of five, wired in reverse: index order makes every pair cross (10).
        // A third rank wired straight to the second keeps the untangling non-trivial.
        let mut nodes = vec![fixed(Band::Cloud, 0); 5];
        nodes.extend(vec![node(Band::Cloud); 10]);
        let mut edges: Vec<LayoutEdge> = (0..5).map(|i| edge(i, 9 - i)).collect();
        edges.extend((0..5).map(|i| edge(5 + i, 10 + i)));
        edges.push(edge(0, 5));
        let spacing = Spacing::default();
        let before = crossings(&nodes, &edges, &layered_with(&nodes, &edges, &spacing, 0));
        let after = crossings(&nodes, &edges, &layered(&nodes, &edges, &spacing));
        assert!(before >= 10, "index order should be bad, got {before}");
        assert!(after < before, "{after} crossings after, {before} before");
        assert!(after <= 4, "nearly untangled, got {after}");

        // And on the big scenario the sweeps never make things worse.
        let (nodes, edges) = scenario(720, 42);
        let before = crossings(&nodes, &edges, &layered_with(&nodes, &edges, &spacing, 0));
        let after = crossings(&nodes, &edges, &layered(&nodes, &edges, &spacing));
        assert!(after < before, "{after} crossings after, {before} before");
    }

    #[test]
    fn crossings_are_counted_exactly() {
        // Left a0 a1, right b0 b1: a0→b1 and a1→b0 cross once; a shared endpoint does not.
        let nodes = vec![
            fixed(Band::Cloud, 0),
            fixed(Band::Cloud, 0),
            node(Band::Cloud),
            node(Band::Cloud),
        ];
        let rank = vec![0, 0, 1, 1];
        let slot = vec![0, 1, 0, 1];
        assert_eq!(count_crossings(&rank, &slot, &[edge(0, 3), edge(1, 2)]), 1);
        assert_eq!(count_crossings(&rank, &slot, &[edge(0, 2), edge(1, 3)]), 0);
        assert_eq!(count_crossings(&rank, &slot, &[edge(0, 3), edge(0, 2), edge(1, 3)]), 0);
        assert_eq!(count_crossings(&rank, &slot, &[edge(0, 3), edge(1, 3), edge(1, 2)]), 1);
        let layout = layered(&nodes, &[edge(0, 3), edge(1, 2)], &Spacing::default());
        assert_eq!(crossings(&nodes, &[edge(0, 3), edge(1, 2)], &layout), 0);
    }

    #[test]
    fn same_input_gives_the_same_layout() {
        let spacing = Spacing::default();
        for (nodes, edges) in graphs() {
            let a = layered(&nodes, &edges, &spacing);
            let b = layered(&nodes, &edges, &spacing);
            assert_eq!(a.centres, b.centres);
            assert_eq!(a.bands, b.bands);
            assert_eq!(a.bounds, b.bounds);
        }
    }

    #[test]
    fn cycles_terminate_and_place_everything() {
        // A three-service sync cycle entered from the gateway, a self-call, and a two-cycle.
        let nodes = vec![
            fixed(Band::Cloud, 0),
            fixed(Band::Cloud, 1),
            node(Band::Cloud),
            node(Band::Cloud),
            node(Band::Cloud),
            node(Band::RegionalEdge),
            node(Band::RegionalEdge),
        ];
        let edges = [
            edge(0, 1),
            edge(1, 2),
            edge(2, 3),
            edge(3, 4),
            edge(4, 2),
            edge(4, 4),
            edge(5, 6),
            edge(6, 5),
        ];
        let ranking = ranking(&nodes, &edges);
        assert_eq!(ranking.back.iter().filter(|&&b| b).count(), 3);
        assert!(ranking.back[4] && ranking.back[5] && ranking.back[7]);
        let layout = layered(&nodes, &edges, &Spacing::default());
        assert_eq!(layout.centres.len(), nodes.len());
        assert!(layout.centres.iter().all(|c| c.x.is_finite() && c.y.is_finite()));
        for c in &layout.centres {
            assert!(layout.bounds.contains(*c));
        }
    }

    #[test]
    fn a_crowded_rank_wraps_into_balanced_sub_columns() {
        let spacing = Spacing::default();
        let pitch = spacing.node + spacing.gap;
        for (services, expected_columns, expected_rows) in
            [(40, 1, 40), (41, 2, 21), (1000, 25, 40)]
        {
            let (nodes, edges) = one_wide_rank(services);
            let layout = layered(&nodes, &edges, &spacing);
            let services = &layout.centres[2..];
            let mut xs: Vec<f32> = services.iter().map(|c| c.x).collect();
            let mut ys: Vec<f32> = services.iter().map(|c| c.y).collect();
            xs.sort_by(f32::total_cmp);
            xs.dedup();
            ys.sort_by(f32::total_cmp);
            ys.dedup();
            assert_eq!(xs.len(), expected_columns, "{} services", services.len());
            assert_eq!(ys.len(), expected_rows, "{} services", services.len());
            let cloud = layout.bands.iter().find(|(b, _)| *b == Band::Cloud).unwrap().1;
            let expected_height =
                2.0 * spacing.band_pad + expected_rows as f32 * pitch.y - spacing.gap.y;
            assert!((cloud.height() - expected_height).abs() < 1e-3);
        }
    }

    #[test]
    fn a_short_column_sits_level_with_its_neighbours() {
        // Ten callers stacked in rank 0; the one callee of the last sits beside it, not at the
        // top of the band, and two callees keep their order while moving down.
        let mut nodes = vec![fixed(Band::Cloud, 0); 10];
        nodes.extend([node(Band::Cloud), node(Band::Cloud)]);
        let edges = [edge(9, 10), edge(6, 11), edge(7, 11)];
        let layout = layered(&nodes, &edges, &Spacing::default());
        let c = &layout.centres;
        assert_eq!(c[10].y, c[9].y);
        assert!(c[11].y > c[6].y && c[11].y < c[9].y, "{c:?}");
        assert_eq!(crossings(&nodes, &edges, &layout), 0);
    }

    #[test]
    fn the_nondecreasing_fit_pools_violators() {
        let mut v = [3.0, 1.0, 2.0];
        nondecreasing_fit(&mut v);
        assert_eq!(v, [2.0, 2.0, 2.0]);
        let mut v = [0.0, 5.0, 1.0, 7.0];
        nondecreasing_fit(&mut v);
        assert_eq!(v, [0.0, 3.0, 3.0, 7.0]);
        nondecreasing_fit(&mut []);
    }

    #[test]
    fn empty_input_gives_an_empty_layout() {
        let layout = layered(&[], &[], &Spacing::default());
        assert!(layout.centres.is_empty());
        assert!(layout.bands.is_empty());
        assert_eq!(layout.bounds, Rect::ZERO);
        assert_eq!(crossings(&[], &[], &layout), 0);
    }

    #[test]
    fn edges_to_missing_nodes_are_ignored() {
        let nodes = vec![fixed(Band::Cloud, 0), node(Band::Cloud)];
        let edges = [edge(0, 1), edge(1, 7), edge(9, 0)];
        let ranking = ranking(&nodes, &edges);
        assert_eq!(ranking.back, vec![false, true, true]);
        let layout = layered(&nodes, &edges, &Spacing::default());
        assert_eq!(layout.centres.len(), 2);
        assert_eq!(crossings(&nodes, &edges, &layout), 0);
    }
}
