// Sortable tables (click a column head) and a load marker for the browser test; no external code.
(function () {
  function key(cell) {
    var raw = cell.getAttribute("data-sort");
    if (raw === null) { return cell.textContent.trim(); }
    return raw === "" ? null : parseFloat(raw);
  }
  function compare(a, b) {
    if (a === null || b === null) { return (a === null) - (b === null); }
    if (typeof a === "number" && typeof b === "number") { return a - b; }
    return String(a).localeCompare(String(b), undefined, { numeric: true });
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var heads = table.tHead.rows[table.tHead.rows.length - 1].cells;
    Array.prototype.forEach.call(heads, function (th, column) {
      th.title = "Sort by this column";
      th.addEventListener("click", function () {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (r1, r2) {
          var a = key(r1.cells[column]), b = key(r2.cells[column]);
          if (a === null || b === null) { return compare(a, b); }  // missing values stay last
          return ascending ? compare(a, b) : compare(b, a);
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });
  window.addEventListener("load", function () {
    var images = Array.prototype.slice.call(document.images);
    var broken = images.filter(function (img) { return !img.complete || img.naturalWidth === 0; });
    document.documentElement.setAttribute("data-images", String(images.length));
    document.documentElement.setAttribute("data-images-broken", String(broken.length));
    document.documentElement.setAttribute("data-rendered", "yes");
  });
})();
