"""The reference checks, one module per group of notebooks, on closed forms shared in ``closed_forms``;
``autograder.authoring.reference_check`` runs them all."""
