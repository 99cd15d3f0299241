/* Apply the saved colour theme before the first paint ("auto" follows the system). */
(function () {
  try {
    var theme = localStorage.getItem('medianest-theme');
    if (theme === 'light' || theme === 'dark') {
      document.documentElement.setAttribute('data-theme', theme);
    }
  } catch (e) { /* storage disabled: stay on the system theme */ }
})();
