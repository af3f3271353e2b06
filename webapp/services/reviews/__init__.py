"""Access reviews (docs/PRODUCT.md §12): campaigns of decisions per member, closed into a review plan."""
