"use strict";
(function () {
  var collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });
  var each = function (list, action) { Array.prototype.forEach.call(list, action); };

  function text(row, index) {
    var cell = row.cells[index];
    return cell ? cell.textContent.trim() : "";
  }

  function sort(table, index, heading) {
    var ascending = heading.getAttribute("aria-sort") !== "ascending";
    each(table.tHead.rows[0].cells, function (cell) { cell.removeAttribute("aria-sort"); });
    heading.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var order = collator.compare(text(a, index), text(b, index));
      return ascending ? order : -order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }

  each(document.querySelectorAll("table.sortable"), function (table) {
    each(table.tHead.rows[0].cells, function (heading, index) {
      heading.tabIndex = 0;
      heading.addEventListener("click", function () { sort(table, index, heading); });
      heading.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          sort(table, index, heading);
        }
      });
    });
  });

  var input = document.getElementById("filter");
  var shown = document.getElementById("shown");
  function filter() {
    var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    var visible = 0;
    var rows = document.querySelectorAll("#grants tbody tr");
    each(document.querySelectorAll("table.filterable tbody tr"), function (row) {
      var content = row.textContent.toLowerCase();
      row.hidden = !words.every(function (word) { return content.indexOf(word) !== -1; });
    });
    each(rows, function (row) { if (!row.hidden) { visible += 1; } });
    shown.textContent = words.length ? visible + " of " + rows.length + " grants shown" : "";
  }
  var pending = null;  // large reports: filter once typing pauses, not at every key
  input.addEventListener("input", function () {
    clearTimeout(pending);
    pending = setTimeout(filter, 150);
  });
})();
