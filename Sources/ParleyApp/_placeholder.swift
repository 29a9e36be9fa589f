enum _ParleyAppPlaceholder {}
