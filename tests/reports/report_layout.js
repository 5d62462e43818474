// Injected by tests/reports/test_report_layout.py: after the load event, sets on <html> the window width,
// whether the page scrolls sideways, whether the answer block and the diagnosis table lie inside the
// window, whether every result table is at most 1,200 px wide without a scroll bar, their order, and
// whether the diagnosis table's head sticks to the top of the window when scrolled.
window.addEventListener("load", function () {
  var root = document.documentElement, width = window.innerWidth;
  function inside(el) { var r = el.getBoundingClientRect(); return r.left >= 0 && r.right <= width + 0.5; }
  function all(list, test) { return Array.prototype.every.call(list, test); }
  function narrow(table) {
    var box = table.parentElement;
    return inside(table) && table.getBoundingClientRect().width <= 1200 && box.scrollWidth <= box.clientWidth;
  }
  var answer = document.getElementById("answer"), diagnosis = document.getElementById("table-diagnosis");
  root.setAttribute("data-width", String(width));
  root.setAttribute("data-scrolls", String(root.scrollWidth > width));
  root.setAttribute("data-answer-fits", String(!!answer && all([answer, ...answer.querySelectorAll("*")], inside)));
  root.setAttribute("data-diagnosis-fits", String(!!diagnosis && all(diagnosis.querySelectorAll("th, td"), inside)));
  root.setAttribute("data-tables-fit", String(all(document.querySelectorAll("table.fit"), narrow)));
  if (answer && diagnosis) {
    var above = answer.getBoundingClientRect().top < diagnosis.getBoundingClientRect().top;
    root.setAttribute("data-order", String(above));
    // Scrolled into the middle of the table, its head stays at the top of the window.
    window.scrollTo(0, diagnosis.getBoundingClientRect().top + window.scrollY + diagnosis.offsetHeight / 2);
    var head = diagnosis.tHead;
    root.setAttribute("data-sticky", String(!!head && Math.abs(head.getBoundingClientRect().top) < 1));
  }
});
